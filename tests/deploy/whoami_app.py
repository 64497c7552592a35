"""The shop as gunicorn serves it (``wsgi:app``, with the ProxyFix TRUSTED_PROXY_HOPS sets up),
plus one route for tests/deploy: what the shop makes of the request's client and scheme."""

from flask import jsonify, request

from wsgi import app


@app.get("/_deploy_test/whoami")
def whoami():
    return jsonify(
        remote_addr=request.remote_addr, scheme=request.scheme, host=request.host,
        is_secure=request.is_secure, url_root=request.url_root,
    )

"""The layout holds: Stripe is imported in one package, and the domain packages depend one way."""

import ast
import itertools
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHOP = ROOT / "shop"
DOMAIN = ("catalogue", "basket", "checkout", "orders", "payments", "emails", "comments", "notify")


def _imports(path: pathlib.Path) -> set[str]:
    """Every module ``path`` imports, at the top or inside a function."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _package_of(path: pathlib.Path) -> str:
    return path.relative_to(SHOP).parts[0].removesuffix(".py")


def test_only_the_payments_package_imports_stripe():
    importers = sorted(
        str(path.relative_to(ROOT)) for path in SHOP.rglob("*.py")
        if any(name == "stripe" or name.startswith("stripe.") for name in _imports(path))
    )
    assert importers and all(path.startswith("shop/payments/") for path in importers), importers


def test_the_plain_text_search_for_stripe_imports_finds_only_payments():
    """What a maintainer types, ``grep -rn "import stripe" shop``, must agree with the parse
    above: a name such as ``import stripe_cli`` elsewhere sends them looking for nothing."""
    hits = sorted(
        str(path.relative_to(ROOT)) for path in SHOP.rglob("*.py")
        if "import stripe" in path.read_text()
    )
    assert hits and all(path.startswith("shop/payments/") for path in hits), hits


def test_payments_imports_nothing_from_the_domain():
    for path in (SHOP / "payments").rglob("*.py"):
        shop_imports = {name for name in _imports(path) if name.startswith("shop.")}
        assert shop_imports <= {"shop.errors", "shop.errors.PaymentGatewayError", "shop.errors.ShopError",
                                "shop.errors.UnknownCheckout", "shop.timeutil", "shop.timeutil.utcnow"}, path


def test_no_import_cycle_among_the_domain_packages():
    edges: dict[str, set[str]] = {package: set() for package in DOMAIN}
    for path in SHOP.rglob("*.py"):
        package = _package_of(path)
        if package not in DOMAIN:
            continue
        for name in _imports(path):
            parts = name.split(".")
            if parts[0] == "shop" and len(parts) > 1 and parts[1] in DOMAIN and parts[1] != package:
                edges[package].add(parts[1])

    def reaches(start: str, goal: str, seen: frozenset = frozenset()) -> bool:
        return any(n == goal or (n not in seen and reaches(n, goal, seen | {n})) for n in edges[start])

    cycles = [(a, b) for a, b in itertools.permutations(DOMAIN, 2) if b in edges[a] and reaches(b, a)]
    assert cycles == [], edges


def test_basket_knows_nothing_of_orders_or_checkout():
    for path in (SHOP / "basket").rglob("*.py"):
        assert not {n for n in _imports(path) if n.startswith(("shop.orders", "shop.checkout"))}, path


def test_the_catalogue_knows_nothing_of_comments():
    # The publication page shows comments through the template global comments registers; the
    # catalogue is below comments (comments read publications), never the other way.
    for path in (SHOP / "catalogue").rglob("*.py"):
        assert not {n for n in _imports(path) if n.startswith("shop.comments")}, path


def test_no_module_configures_the_mappers_when_imported():
    # Configuring them (a joinedload option or a relationship's inspection at module level) needs
    # every model imported already, so it would make the import order matter: a test file run
    # alone failed to import when shop.staff.sessions built its query at import.
    script = (
        "import importlib, pkgutil, shop\n"
        "from shop.extensions import db\n"
        "for module in pkgutil.walk_packages(shop.__path__, 'shop.'):\n"
        "    importlib.import_module(module.name)\n"
        "mappers = list(db.Model.registry.mappers)\n"
        "assert len(mappers) > 10, len(mappers)\n"
        "print(sorted(m.class_.__name__ for m in mappers if m.configured))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"

"""deploy/systemd/ has a timer for every job the README schedules, each running that command."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SYSTEMD = ROOT / "deploy" / "systemd"


def _scheduled_commands() -> set[str]:
    readme = (ROOT / "README.md").read_text()
    block = readme.split("## Scheduled jobs", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    commands = set()
    for line in block.splitlines():
        found = re.search(r"flask --app wsgi ([a-z-]+ [a-z-]+(?: --since \w+)?)", line)
        if found and "outbox send" not in found.group(1):  # `outbox run` is a service instead
            commands.add(found.group(1))
    return commands


def test_every_scheduled_job_has_a_timer_and_a_service_running_it():
    run_by_timers = set()
    for timer in SYSTEMD.glob("*.timer"):
        service = timer.with_suffix(".service")
        assert service.exists(), timer.name
        assert "OnCalendar=" in timer.read_text() and "WantedBy=timers.target" in timer.read_text()
        found = re.search(r"ExecStart=\S+/flask --app wsgi (.+)", service.read_text())
        assert found, service.name
        run_by_timers.add(found.group(1).strip())
    assert _scheduled_commands() == run_by_timers
    assert "outbox run" in (SYSTEMD / "shop-outbox.service").read_text()

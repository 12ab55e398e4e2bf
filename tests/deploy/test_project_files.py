"""LICENSE matches pyproject's license; SECURITY.md says how to report; CHANGELOG has this version."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_license_security_changelog() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "Apache-2.0" and project["license-files"] == ["LICENSE"]
    lic = (ROOT / "LICENSE").read_text()
    assert "Apache License" in lic and "Version 2.0, January 2004" in lic
    assert "END OF TERMS AND CONDITIONS" in lic and len(lic) > 10_000
    sec = (ROOT / "SECURITY.md").read_text()
    assert "Report a vulnerability" in sec and "Do not open a public issue" in sec
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert f"## [{project['version']}]" in changelog and "## [Unreleased]" in changelog


def test_operations_doc_covers_the_deployment() -> None:
    doc = (ROOT / "docs" / "operations.md").read_text()
    for part in ("genesis contribute", "genesis assemble", "genesis verify", "genesis_hash",
                 "TLS", "nginx", "systemd", "alerts.yml", "dashboard.json", "node backup",
                 "node restore", "audit OK", "recovery after heal"):
        assert part in doc, part
    for f in ("deploy/systemd/ballotchain.service", "deploy/nginx/ballotchain.conf",
              "deploy/prometheus/alerts.yml", "deploy/grafana/dashboard.json"):
        assert (ROOT / f).is_file(), f

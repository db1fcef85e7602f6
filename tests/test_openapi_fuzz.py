"""Schemathesis over the whole OpenAPI document against ``parkcarbon serve`` (a real process
on a real database), authenticated as an operator and as an enterprise, with every check:
no 5xx, every status documented, every response matching its schema, schema-violating
requests refused. Settings: tests/schemathesis.toml; the seed is fixed for CI and printed
(``PARKCARBON_FUZZ_SEED`` to explore others)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from services.core.models import MeterRole, Role
from tests.factories import make_enterprise, make_meter, make_park, make_token

CONFIG = Path(__file__).with_name("schemathesis.toml")
EXAMPLES_PER_OPERATION = 20
SEED = int(os.environ.get("PARKCARBON_FUZZ_SEED", "20261130"))


def _schemathesis(base: str, token: str, seed: int) -> tuple[int, str]:
    binary = shutil.which("schemathesis") or shutil.which("st")
    assert binary, "schemathesis is installed by the README's test command (pip .[dev])"
    result = subprocess.run(
        [
            binary,
            "--config-file",
            str(CONFIG),
            "run",
            f"{base}/openapi.json",
            "--checks",
            "all",
            "--max-examples",
            str(EXAMPLES_PER_OPERATION),
            "--seed",
            str(seed),
            "--header",
            f"Authorization: Bearer {token}",
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    return result.returncode, result.stdout + result.stderr


def test_fuzzing_the_openapi_document_finds_no_failure(
    served: str, session_factory: sessionmaker[Session]
) -> None:
    with session_factory() as s:
        park = make_park(s)
        enterprise, other = make_enterprise(s, park), make_enterprise(s, park)
        make_meter(s, park, "E-1", MeterRole.ENTERPRISE_MAIN, enterprise)
        make_meter(s, park, "E-2", MeterRole.ENTERPRISE_MAIN, other)
        tokens = {
            "operator": make_token(s, park, Role.OPERATOR),
            "enterprise": make_token(s, park, Role.ENTERPRISE, enterprise),
        }
        s.commit()
    generated = 0
    for who, token in tokens.items():
        code, output = _schemathesis(served, token, SEED)
        cases = re.search(r"(\d+) generated", output)
        summary = output[output.rfind("SUMMARY") :][:3000]
        print(f"schemathesis as {who} (seed {SEED}):\n{summary}")
        assert code == 0, output[-30000:]
        assert cases is not None
        generated += int(cases.group(1))
    assert generated >= 1000

"""Domain rules without I/O: 统一社会信用代码, register maps, gateway configuration files."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from gateways.register_map import RegisterMap, load_profile
from services.cli import app
from services.core.uscc import InvalidUSCC, validate_uscc


def test_uscc_accepts_the_gb32100_example_and_a_published_code() -> None:
    # GB 32100-2015's own example and a code printed on a public business licence.
    assert validate_uscc("91350100M000100Y43") == "91350100M000100Y43"
    assert validate_uscc(" 91110000802100433b ") == "91110000802100433B"


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("91350100M000100Y44", "check character"),
        ("91350100M000100Y4", "18 characters"),
        ("91350100M000100YI3", "outside GB 32100"),
    ],
)
def test_uscc_rejects_bad_codes_saying_why(code: str, message: str) -> None:
    with pytest.raises(InvalidUSCC, match=message):
        validate_uscc(code)


def test_register_map_round_trips_through_ct_multiplication() -> None:
    electricity = load_profile("parkcarbon-sim-electricity")
    image = electricity.encode({"energy_import_kwh": 1234.5, "power_kw": 80.0}, ct=10)
    # 1234.5 kWh primary / CT 10 = 123.45 kWh secondary = 12345 counts of 0.01 kWh.
    assert [image[0], image[1]] == [0, 12345]
    assert electricity.decode(image, ct=10)["energy_import_kwh"] == pytest.approx(1234.5)


def test_register_map_refuses_overlapping_registers() -> None:
    with pytest.raises(ValidationError, match="overlaps"):
        RegisterMap.model_validate(
            {
                "model": "x",
                "manufacturer": "x",
                "source": "x",
                "registers": [
                    {"quantity": "power_kw", "address": 0, "data_type": "float32"},
                    {"quantity": "voltage_v", "address": 1, "data_type": "uint16"},
                ],
            }
        )


def test_gateway_validate_lists_every_mistake(tmp_path: Path) -> None:
    config = tmp_path / "gw.yaml"
    config.write_text(
        "gateway: gw-01\npark: demo\nbuses:\n"
        "  - name: b1\n    port: 70000\n    devices:\n"
        "      - {meter: E-1, unit: 1, profile: no-such-meter}\n"
        "      - {meter: E-1, unit: 1, profile: parkcarbon-sim-electricity}\n"
        "      - {meter: E-2, unit: 300, profile: parkcarbon-sim-electricity}\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["gateway", "validate", str(config)])
    assert result.exit_code == 1
    assert "unknown profile 'no-such-meter'" in result.output
    assert "less than or equal to 65535" in result.output
    assert "unit" in result.output
    assert "meters configured more than once: ['E-1']" in result.output


def test_gateway_validate_wants_a_serial_port_for_rtu(tmp_path: Path) -> None:
    config = tmp_path / "gw.yaml"
    config.write_text(
        "gateway: gw-01\npark: demo\nbuses:\n  - name: rs485\n    transport: rtu\n    devices:\n"
        "      - {meter: E-1, unit: 1, profile: chnt-dtsu666}\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["gateway", "validate", str(config)])
    assert result.exit_code == 1
    assert "transport rtu needs serial_port" in result.output


def test_the_example_gateway_file_is_valid() -> None:
    example = Path(__file__).parents[1] / "deploy" / "gateway.example.yaml"
    result = CliRunner().invoke(app, ["gateway", "validate", str(example)])
    assert result.exit_code == 0, result.output


def test_gateway_validate_accepts_a_good_file(tmp_path: Path) -> None:
    config = tmp_path / "gw.yaml"
    config.write_text(
        "gateway: gw-01\npark: demo\nbuses:\n  - name: b1\n    devices:\n"
        "      - {meter: E-1, unit: 1, profile: parkcarbon-sim-electricity, ct_ratio: 40}\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["gateway", "validate", str(config)])
    assert result.exit_code == 0, result.output

"""统一社会信用代码 (Unified Social Credit Code) validation, GB 32100-2015.

18 characters: registration authority (1), entity type (1), administrative division (6),
organisation code (9), check character (1). The check character is computed over the first
17 with weights 3^i mod 31 (GB 32100-2015 §5), using an alphabet without I, O, Z, S, V.
"""

from __future__ import annotations

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


class InvalidUSCC(ValueError):
    pass


def check_character(first17: str) -> str:
    total = sum(ALPHABET.index(ch) * w for ch, w in zip(first17, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def validate_uscc(code: str) -> str:
    """Return the normalised code, or raise :class:`InvalidUSCC` saying what is wrong."""
    code = code.strip().upper()
    if len(code) != 18:
        raise InvalidUSCC(f"统一社会信用代码 must have 18 characters, got {len(code)}")
    bad = sorted({ch for ch in code if ch not in ALPHABET})
    if bad:
        raise InvalidUSCC(f"统一社会信用代码 contains characters outside GB 32100: {''.join(bad)}")
    expected = check_character(code[:17])
    if code[17] != expected:
        raise InvalidUSCC(f"统一社会信用代码 check character is {code[17]}, expected {expected}")
    return code


def make_uscc(body17: str) -> str:
    """Complete 17 characters with their check character (used by the demo park)."""
    return body17 + check_character(body17)

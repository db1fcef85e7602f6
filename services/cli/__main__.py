"""``python -m services.cli``: the same as the ``parkcarbon`` console script."""

from services.cli import main

main()

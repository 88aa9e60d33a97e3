"""``python -m bot.reports.evaluate DIR``, the command the README and the corpus notes give: the scorer
itself is ``bot.reports.evaluate``."""

import sys

from bot.reports.evaluate import main

if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

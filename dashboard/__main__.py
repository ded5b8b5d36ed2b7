"""``python -m dashboard <command>``: the command line (``dashboard.cli``)."""
from dashboard.cli import main

main()

"""``python -m rankfw``: the command line."""

from rankfw.cli import main

main()

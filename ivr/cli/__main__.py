import sys

from ivr.cli import main

sys.exit(main(sys.argv[1:]))

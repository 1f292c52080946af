import sys

from airken.cli import main

sys.exit(main())

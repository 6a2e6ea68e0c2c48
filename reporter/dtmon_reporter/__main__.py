import sys

from dtmon_reporter.commands import main

sys.exit(main())

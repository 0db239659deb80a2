"""mipo-bench's tests: a package, so pytest puts the repo root on sys.path and helpers import as tests.helpers.*."""

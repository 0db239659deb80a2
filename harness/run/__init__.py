"""Running a suite (upper part of `harness`): the run manifest and the runner that executes the plan."""

"""DEMO DATA: the simulator of reports and follow-ups, demo accounts, demo grid workers and
the frames of the simulated cameras. Nothing outside the embedded default depends on it."""

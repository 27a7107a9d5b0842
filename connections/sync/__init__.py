"""Long-running sync jobs: the run record's life cycle lives here, each job's own
work in connections/sync/jobs/<kind>.py.

runner.run_execute claims a run and hands the job a RunContext (context.py); services.py
starts, cancels and retries runs for people and schedules.
"""

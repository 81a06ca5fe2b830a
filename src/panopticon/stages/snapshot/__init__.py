"""Snapshots: tables read off the state on a schedule (score distribution, grades, groups)."""

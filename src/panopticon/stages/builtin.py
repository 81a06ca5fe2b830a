"""The stages of one day, each a module registered by import, in this order.

population -> respond/behave -> observe -> identify -> record -> score -> sanction
-> adapt -> society -> snapshot. The engine orders modules by phase; within a phase,
they run (and their columns appear) in this registration order, so it is kept by hand.
"""
# ruff: noqa: I001, F401

from panopticon.stages import population
from panopticon.stages.behave import behave, respond
from panopticon.stages.observe import observe
from panopticon.stages.identify import identify
from panopticon.stages.record import records
from panopticon.stages.score import ledger, factors, lists
from panopticon.stages.sanction import blacklist, measures
from panopticon.stages.society import module
from panopticon.stages.snapshot import histogram, grades, groups

"""The built-in modules, in their fixed order (imports register them; `ORDER` ranks them).

population -> respond/behave -> observe -> identify -> record -> score -> sanction
-> adapt -> society -> snapshot. The engine orders modules by phase; within a phase they
run, and their columns appear, in `ORDER`, whatever order their files were imported in
(a scenario's validation imports the measure kinds early). Modules registered from
elsewhere (plug-ins, tests) follow in registration order.
"""

from __future__ import annotations

from panopticon.core.module import Module
from panopticon.stages.behave.behave import Adapt, Behave
from panopticon.stages.behave.respond import Respond
from panopticon.stages.identify.identify import Identify
from panopticon.stages.observe.observe import Observe
from panopticon.stages.population import Demographics
from panopticon.stages.record.records import Record
from panopticon.stages.sanction.blacklist import Blacklist
from panopticon.stages.sanction.court import CourtListModule
from panopticon.stages.sanction.measures.catalog import Measures
from panopticon.stages.score.factors import FactorsScore
from panopticon.stages.score.ledger import PointsLedger
from panopticon.stages.score.lists import Listing
from panopticon.stages.snapshot.grades import GradeCounts
from panopticon.stages.snapshot.groups import Groups
from panopticon.stages.snapshot.histogram import Histogram
from panopticon.stages.society.module import Society

ORDER: tuple[type[Module], ...] = (
    Demographics,
    Behave,
    Adapt,
    Respond,
    Observe,
    Identify,
    Record,
    PointsLedger,
    FactorsScore,
    Listing,
    Blacklist,
    CourtListModule,
    Measures,
    Society,
    Histogram,
    GradeCounts,
    Groups,
)

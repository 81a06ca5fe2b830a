"""The finance attributes of the dossier (procedural generators).

Income, savings, credit rating and cards, loans, insurance, investments, tax, month-end
balances and payment channels by window.
"""

from __future__ import annotations

import numpy as np

from panopticon.dossier.catalog import BOOL, F64, I32, MONTHS, WINDOWS, Registry, money, null_unless
from panopticon.dossier.procedural.context import Ctx

REGISTRY = Registry()  # the finance attributes, in order
add, latent, nested = REGISTRY.add, REGISTRY.latent, REGISTRY.nested

add(
    "finance.annual_income_cny",
    F64,
    "income over the last 12 months",
    lambda c: money(
        np.where(
            c.get("employment.employed"),
            sum(c.get(f"employment.salary_cny_{m}") for m in MONTHS),
            12 * c.get("finance.monthly_income_cny"),
        )
    ),
)
add(
    "finance.savings_cny",
    F64,
    "savings across accounts",
    lambda c: money(
        c.get("finance.monthly_income_cny")
        * 6
        * c.get("_wealth")
        * c.get("_thrift")
        / np.sqrt(c.prop + 0.2)
        + 200 * c.child * c.u("finance.savings")
    ),
)
add(
    "finance.bank_accounts",
    I32,
    "bank accounts held",
    lambda c: (c.age >= 8) * (1 + c.pois("finance.accounts", 1.2 * (c.age >= 18))),
)
add(
    "finance.bank_credit_rating",
    I32,
    "bank credit bureau rating (300-850)",
    lambda c: null_unless(
        np.clip(
            np.round(640 + 45 * c.get("_ability") - 55 * (c.prop - 1) + 40 * c.z("finance.rating")),
            300,
            850,
        ),
        c.adult,
    ),
)
add(
    "finance.credit_cards",
    I32,
    "credit cards held",
    lambda c: c.adult * c.pois("finance.cards", 1.4 * (c.get("finance.monthly_income_cny") > 2500)),
)
add(
    "finance.credit_limit_cny",
    F64,
    "total credit card limit",
    lambda c: money(
        c.get("finance.credit_cards")
        * 2.5
        * c.get("finance.monthly_income_cny")
        * c.ln("finance.limit", 0.3)
    ),
)
add(
    "finance.card_utilisation",
    F64,
    "share of the credit limit used",
    lambda c: np.where(
        c.get("finance.credit_cards") > 0,
        np.round(np.clip(0.25 * c.prop**0.5 * c.ln("finance.util", 0.6), 0, 1.2), 3),
        0.0,
    ),
)
_LOANS = {  # loan: (minimum age, base share holding it, size in months of income)
    "mortgage": (23, 0.3, 90.0),
    "car": (20, 0.15, 10.0),
    "consumer": (18, 0.2, 3.0),
    "student": (18, 0.0, 6.0),
    "business": (22, 0.06, 30.0),
    "online_p2p": (18, 0.05, 2.0),
    "microloan": (18, 0.06, 1.0),
    "card_instalment": (18, 0.15, 1.5),
}
for _l, (_amin, _share, _size) in _LOANS.items():

    def _loan_held(c: Ctx, lo: str = _l, amin: int = _amin, share: float = _share) -> np.ndarray:
        if lo == "student":
            p = c.get("education.student_loan_taken") * np.where(c.age < 32, 0.9, 0.1)
        else:
            load = c.prop ** (0.6 if lo in ("online_p2p", "microloan", "consumer") else 0.0)
            p = share * load
            if lo == "mortgage":
                p = p * (1 + c.get("household.home_owned")) * (c.age < 65)
            if lo == "business":
                p = np.where(c.get("_status") == 3, 0.5, share * 0.2)
        return (c.age >= amin) & c.bern(f"finance.loan.{lo}.held", p)

    add(f"finance.loan.{_l}.held", BOOL, f"has a {_l.replace('_', ' ')} loan", _loan_held)
    add(
        f"finance.loan.{_l}.outstanding_cny",
        F64,
        f"{_l.replace('_', ' ')} loan outstanding",
        lambda c, lo=_l, s=_size: money(
            c.get(f"finance.loan.{lo}.held")
            * s
            * np.maximum(c.get("finance.monthly_income_cny"), 1500)
            * c.ln(f"finance.loan.{lo}.out", 0.5)
        ),
    )
    add(
        f"finance.loan.{_l}.monthly_payment_cny",
        F64,
        f"{_l.replace('_', ' ')} loan monthly payment",
        lambda c, lo=_l, s=_size: money(
            c.get(f"finance.loan.{lo}.outstanding_cny") / max(s, 1.0) * 0.6
        ),
    )
    add(
        f"finance.loan.{_l}.missed_payments_12m",
        I32,
        f"missed {_l.replace('_', ' ')} payments, 12 months",
        lambda c, lo=_l: (
            c.get(f"finance.loan.{lo}.held")
            * c.pois(f"finance.loan.{lo}.missed", 0.15 * c.prop**1.3)
        ),
    )
add(
    "finance.total_debt_cny",
    F64,
    "all loans outstanding",
    lambda c: money(sum(c.get(f"finance.loan.{lo}.outstanding_cny") for lo in _LOANS)),
)
add(
    "finance.debt_to_income",
    F64,
    "total debt / annual income",
    lambda c: np.round(
        c.get("finance.total_debt_cny") / np.maximum(c.get("finance.annual_income_cny"), 1000.0), 3
    ),
)
add(
    "finance.collections_accounts",
    I32,
    "debts passed to collection agencies",
    lambda c: c.adult * c.pois("finance.collections", 0.05 * c.prop**1.5),
)
add(
    "finance.guarantor_for_others",
    I32,
    "loans the citizen guarantees",
    lambda c: c.adult * c.pois("finance.guarantor", 0.1),
)
add(
    "finance.bankruptcy_filed",
    BOOL,
    "personal bankruptcy filed",
    lambda c: c.adult & c.bern("finance.bankruptcy", 0.002 * c.prop**1.5),
)
add(
    "finance.credit_inquiries_6m",
    I32,
    "credit inquiries, 6 months",
    lambda c: c.adult * c.pois("finance.inquiries", 0.6 * c.prop**0.7),
)
add(
    "finance.overdraft_events_12m",
    I32,
    "overdraft events, 12 months",
    lambda c: c.adult * c.pois("finance.overdraft", 0.4 * c.prop / c.get("_thrift")),
)
add(
    "finance.tax_paid_cny_12m",
    F64,
    "income tax paid, 12 months",
    lambda c: money(np.maximum(c.get("finance.annual_income_cny") - 60000, 0) * 0.1),
)
add(
    "finance.tax_arrears_cny",
    F64,
    "tax owed past due",
    lambda c: money(
        c.bern("finance.tax_arrears", 0.01 * c.prop)
        * c.get("finance.monthly_income_cny")
        * c.ln("finance.arrears", 0.8)
    ),
)
add(
    "finance.large_cash_transactions_12m",
    I32,
    "cash transactions above the reporting threshold, 12 months",
    lambda c: c.adult * c.pois("finance.large_cash", 0.2 * c.get("_wealth") ** 2),
)
add(
    "finance.foreign_currency_purchases_12m",
    I32,
    "foreign currency purchases, 12 months",
    lambda c: c.adult * c.pois("finance.fx", 0.3 * c.get("identity.document.passport.held")),
)
for _mi, _m in enumerate(MONTHS):
    add(
        f"finance.account_balance_cny_{_m}",
        F64,
        f"main account balance, end of month {_mi + 1}",
        lambda c, m=_m: money(
            0.2 * c.get("finance.savings_cny") * c.ln(f"finance.balance.{m}", 0.3)
        ),
    )
_INSURANCE = (
    "life",
    "health",
    "car",
    "home",
    "accident",
    "private_pension",
    "travel",
    "critical_illness",
)
for _ins in _INSURANCE:
    add(
        f"finance.insurance.{_ins}",
        BOOL,
        f"holds {_ins.replace('_', ' ')} insurance",
        lambda c, ins=_ins: (
            c.adult
            & c.bern(
                f"finance.insurance.{ins}",
                0.1 + 0.25 * (c.get("finance.monthly_income_cny") > 6000),
            )
        ),
    )
_INVEST = ("equities", "mutual_funds", "bonds", "gold", "wealth_products", "fixed_deposits")
for _iv in _INVEST:
    add(
        f"finance.investment.{_iv}_cny",
        F64,
        f"value held in {_iv.replace('_', ' ')}",
        lambda c, iv=_iv: money(
            c.adult
            * c.bern(f"finance.investment.{iv}", 0.15 * c.get("_wealth"))
            * c.get("finance.savings_cny")
            * c.ln(f"finance.inv.{iv}", 0.8)
        ),
    )
_PAYMENTS = {  # payment channel: (transactions a day for an adult, CNY per transaction)
    "mobile_wallet_a": (2.0, 45.0),
    "mobile_wallet_b": (1.2, 50.0),
    "debit_card": (0.3, 180.0),
    "credit_card": (0.2, 260.0),
    "cash_withdrawal": (0.05, 400.0),
    "bank_transfer": (0.1, 1500.0),
    "merchant_qr": (0.8, 30.0),
    "utility_autopay": (0.2, 90.0),
    "cross_border": (0.005, 900.0),
    "payroll_in": (0.033, 0.0),
}
for _pc, (_rate, _ticket) in _PAYMENTS.items():

    def _pay_rate(c: Ctx, pc: str = _pc, rate: float = _rate) -> np.ndarray:
        if pc == "payroll_in":
            return c.get("employment.employed") / 30.0
        if pc == "cross_border":
            return rate * c.get("identity.document.passport.held") * c.get("_wealth")
        tech = c.get("_tech") if pc.startswith(("mobile", "merchant")) else 1.0
        return rate * tech * np.where(c.adult, 1.0, 0.15) * (c.age >= 8)

    nested(
        [f"finance.payment.{_pc}.count_{w}d" for w in WINDOWS],
        I32,
        f"{_pc.replace('_', ' ')} transactions",
        _pay_rate,
    )
    for _w in (30, 365):
        add(
            f"finance.payment.{_pc}.amount_cny_{_w}d",
            F64,
            f"{_pc.replace('_', ' ')} amount, last {_w} days",
            lambda c, pc=_pc, t=_ticket, w=_w: money(
                c.get(f"finance.payment.{pc}.count_{w}d")
                * np.where(pc == "payroll_in", c.get("finance.monthly_income_cny"), t)
                * c.ln(f"finance.payment.{pc}.amount_{w}", 0.2)
            ),
        )

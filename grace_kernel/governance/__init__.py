"""Governance: Cedar policies, human approvals, and the one governed path (DESIGN.md §2).

- :class:`Governance` — ``govern``, ``governed`` (context manager), ``governs``
  (decorator), approvals; every decision is a signed ledger record;
- :class:`PolicyEngine` — the validated Cedar policy set with hot reload;
- :class:`Action`, :class:`ActionKind`, :class:`Principal`, :class:`Findings`;
- fact builders (:func:`path_facts`, :func:`host_facts`, :func:`command_facts`,
  :func:`package_facts`, :func:`trust_facts`) that compute what policies compare.
"""

from grace_kernel.governance._actions import (
    RESOURCE_TYPES,
    Action,
    ActionKind,
    Findings,
    Principal,
    PrincipalType,
    Severity,
)
from grace_kernel.governance._approvals import ApprovalRequest, ApprovalStore
from grace_kernel.governance._decision import Decision, Effect
from grace_kernel.governance._engine import (
    PolicyEngine,
    PolicyInfo,
    PolicyLoadError,
    PolicyProblem,
    load_policy_set,
)
from grace_kernel.governance._facts import (
    DEFAULT_CONTEXT,
    command_facts,
    facts_for,
    host_facts,
    package_facts,
    path_facts,
    trust_facts,
)
from grace_kernel.governance._policytest import CaseResult, load_cases, run_cases
from grace_kernel.governance._service import (
    APPROVAL,
    DECISION,
    OUTCOME,
    ApprovalRequired,
    Governance,
    PolicyDenied,
)

__all__ = [
    "APPROVAL",
    "DECISION",
    "DEFAULT_CONTEXT",
    "OUTCOME",
    "RESOURCE_TYPES",
    "Action",
    "ActionKind",
    "ApprovalRequest",
    "ApprovalRequired",
    "ApprovalStore",
    "CaseResult",
    "Decision",
    "Effect",
    "Findings",
    "Governance",
    "PolicyDenied",
    "PolicyEngine",
    "PolicyInfo",
    "PolicyLoadError",
    "PolicyProblem",
    "Principal",
    "PrincipalType",
    "Severity",
    "command_facts",
    "facts_for",
    "host_facts",
    "load_cases",
    "load_policy_set",
    "package_facts",
    "path_facts",
    "run_cases",
    "trust_facts",
]

"""The columns every records container has, and lead names (shared by records and sources)."""

from __future__ import annotations

#: Metadata columns every container has (missing facts are NaN / None).
META_COLUMNS = ("record_id", "source", "fs", "age", "sex", "patient_id", "leads", "dx")

STANDARD_LEADS = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
_LEAD_ALIASES = {name.upper(): name for name in STANDARD_LEADS}
_LEAD_ALIASES.update({"DI": "I", "DII": "II", "DIII": "III"})


def normalize_lead_name(name: str) -> str:
    """Canonical spelling of a lead name (``'AVR'`` -> ``'aVR'``, ``'DII'`` -> ``'II'``)."""
    return _LEAD_ALIASES.get(str(name).strip().upper(), str(name).strip())

"""ORM models, one module per domain, re-exported here so that migrations and queries see
one metadata. Timestamps are timezone-aware and stored in UTC."""

from services.core.models.access import (
    USER_ROLES,
    ApiToken,
    AuditEntry,
    LoginFailure,
    Role,
    User,
    UserSession,
)
from services.core.models.base import NAMING_CONVENTION, Base, pg_enum
from services.core.models.carbon import (
    CarbonFactorHourly,
    CarbonReopenedRange,
    CoverageHourly,
    DataQuality,
    EmissionHourly,
    FuelParameter,
    GreenCertificate,
    IndicatorThreshold,
    IntervalEnergy,
)
from services.core.models.park import (
    Bus,
    Enterprise,
    Gateway,
    Line,
    Meter,
    MeterDirectoryVersion,
    MeterReplacement,
    MeterRole,
    Park,
    Substation,
    VirtualMeterTerm,
)
from services.core.models.telemetry import QuarantinedTelemetry, Reading

__all__ = [
    "NAMING_CONVENTION",
    "USER_ROLES",
    "ApiToken",
    "AuditEntry",
    "Base",
    "Bus",
    "CarbonFactorHourly",
    "CarbonReopenedRange",
    "CoverageHourly",
    "DataQuality",
    "EmissionHourly",
    "Enterprise",
    "FuelParameter",
    "Gateway",
    "GreenCertificate",
    "IndicatorThreshold",
    "IntervalEnergy",
    "Line",
    "LoginFailure",
    "Meter",
    "MeterDirectoryVersion",
    "MeterReplacement",
    "MeterRole",
    "Park",
    "QuarantinedTelemetry",
    "Reading",
    "Role",
    "Substation",
    "User",
    "UserSession",
    "VirtualMeterTerm",
    "pg_enum",
]

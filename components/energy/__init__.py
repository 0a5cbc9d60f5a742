"""Operation counts and a ladder of energy models for spiking models (issue 13).

    with EnergyMeter(model) as meter, torch.no_grad():      # counts.py, meter.py
        for x, _ in loader:
            model(x)
    report = meter.report()                                  # legacy totals (report.py)
    result = report.ladder(source="trained weights, test split")   # every model (ladder.py)
    measure_ladder(model, batches, source=...)               # the same in one call

Attention classes declare their own products (declare.py, products.py); the energy models
are registered parts with their constants and sources (models.py); `ann_twin` builds the
ReLU twin (twin.py). The command is `python -m bench.energy`.
"""

from components.energy.counts import COMPONENTS, Counts, component_counts
from components.energy.declare import (
    KV_FIRST,
    ORDERS,
    QK_FIRST,
    Product,
    declared_class,
    declares_products,
    require_energy_products,
)
from components.energy.ladder import component_table, ladder, ladder_lines, price
from components.energy.measure import (
    calibrate_bn,
    measure_energy,
    measure_ladder,
    measure_report,
)
from components.energy.meter import EnergyMeter
from components.energy.models import E_AC, E_MAC, ENERGY_MODELS, LADDER
from components.energy.report import EnergyReport
from components.energy.twin import ann_twin

__all__ = [
    "COMPONENTS",
    "E_AC",
    "E_MAC",
    "ENERGY_MODELS",
    "KV_FIRST",
    "LADDER",
    "ORDERS",
    "QK_FIRST",
    "Counts",
    "EnergyMeter",
    "EnergyReport",
    "Product",
    "ann_twin",
    "calibrate_bn",
    "component_counts",
    "component_table",
    "declared_class",
    "declares_products",
    "ladder",
    "ladder_lines",
    "measure_energy",
    "measure_ladder",
    "measure_report",
    "price",
    "require_energy_products",
]

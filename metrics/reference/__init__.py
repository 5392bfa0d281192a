"""What things are: the metric catalogue, reporting periods, how each unit is written,
and the committed England reference geography (areas, codes and their changes).

The lowest stage: imports only the standard library, numpy/pandas and metrics.settings.
"""

"""Operator dashboard (plotly), served by the API process. Chinese first, English available."""

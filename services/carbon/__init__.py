"""Carbon engine: interval energy, the park's hourly 电碳因子, emissions, coverage."""

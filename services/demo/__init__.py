"""The demo park: layout, load model, simulated meters and the one-command runner."""

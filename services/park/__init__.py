"""The park register: parks, enterprises, substations, buses, lines, meters and gateways."""

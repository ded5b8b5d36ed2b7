"""Geography: towns, villages and grids, the base map, the camera registry, and the import of
a deployment's own grid and camera files."""

DROP TABLE binding_mirrors;

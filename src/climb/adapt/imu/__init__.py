"""Adapters of inertial-sensor (IMU) gait and activity datasets."""

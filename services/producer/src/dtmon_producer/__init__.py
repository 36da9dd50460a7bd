"""dtmon-producer: the DAQ stream emulator.

Reads hit words from CSV files, the 64-bit binary batch format, S3/MinIO objects or a
detector simulator, and pushes them into Kafka (or a CSV file) at a chosen rate.
"""

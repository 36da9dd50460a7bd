"""The detector simulator behind `--source sim`: cosmic muons through the miniDT telescope.

Modules: `geometry` (where the wires are, derived from minidt.detector), `muons` (tracks and
the cells they cross), `noise` (electronic noise, noisy channels), `ancillary` (the DAQ's
HEAD 0/1/3/4/5 words), `daq` (the clock: times -> ORBIT_CNT/BX_COUNTER/TDC_MEAS, and CSV
text), `simulator` (one window of detector time) and `source` (the producer's Source).
"""

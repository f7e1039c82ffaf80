"""Tools that drive a running system from outside, as a sender or an auditor would.

``loadtest`` sends signed mixed webhook load and accounts for every delivery;
``prove`` brings up a throwaway cluster, runs every gate and seals an evidence pack.
"""

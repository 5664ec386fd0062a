# scaling_model.sh — bench/scaling_model.py against a simulated ring / hierarchical all-reduce
# (tests/scaling/scaling_ring_ref.py) and the 90 %-efficiency batch boundary.
exec "$LVT_PYTHON" "$LVT_SOURCE_DIR/tests/scaling/scaling_ring_ref.py"

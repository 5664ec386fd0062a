# ckpt.cmake — optimiser (vs torch.optim.AdamW / clip_grad_norm_ / LR schedulers), checkpoints
# (round trip, atomicity, malformed files), safetensors (export/import vs PyTorch), lvt init /
# export / predict / bench.
lvt_c_test(test_optim SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_optim.c LABELS ckpt)
lvt_c_test(test_ckpt SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_ckpt.c LABELS ckpt)

# train.cmake — lvt train: forward-signal learning, curriculum, tripwires, resume, non-finite losses.
foreach(t margin curriculum tripwire resume nan devdata)
  lvt_sh_test(train_${t} ${CMAKE_CURRENT_SOURCE_DIR}/train_${t}.sh LABELS train)
endforeach()

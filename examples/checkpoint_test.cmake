# ctest example_<name>_checkpoint: trains an example briefly, evaluates its
# checkpoint in a second process, and fails unless both print the same last
# line that starts with LINE ("test accuracy", "validation loss", ...).
#   cmake -DPROGRAM=<program> -DLINE=<text> -DCHECKPOINT=<file>
#         "-DTRAIN=<args;...>" "-DEVAL=<args;...>" -P checkpoint_test.cmake
# TRAIN and EVAL are the arguments of the two runs (EVAL gets
# --eval-checkpoint CHECKPOINT after them, TRAIN --checkpoint CHECKPOINT).

# Runs the program with ARGN and sets `line` to its last LINE line.
function(reported_line)
  execute_process(COMMAND ${PROGRAM} ${ARGN} OUTPUT_VARIABLE output RESULT_VARIABLE status)
  message("${output}")
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "${PROGRAM} ${ARGN} failed: ${status}")
  endif()
  string(REGEX MATCHALL "\n${LINE} [^\n]*" matches "\n${output}")
  if(NOT matches)
    message(FATAL_ERROR "${PROGRAM} ${ARGN} printed no '${LINE}' line")
  endif()
  list(GET matches -1 match)
  string(STRIP "${match}" stripped)
  set(line "${stripped}" PARENT_SCOPE)
endfunction()

reported_line(${TRAIN} --checkpoint ${CHECKPOINT})
set(trained "${line}")
reported_line(${EVAL} --eval-checkpoint ${CHECKPOINT})
if(NOT trained STREQUAL line)
  message(FATAL_ERROR "the checkpoint's '${line}' differs from training's '${trained}'")
endif()

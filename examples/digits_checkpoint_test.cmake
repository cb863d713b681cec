# ctest example_digits_checkpoint: trains the digits example briefly, evaluates its
# checkpoint in a second process, and fails unless both print the same
# "test accuracy ..." line.
#   cmake -DDIGITS=<program> -P digits_checkpoint_test.cmake
set(checkpoint digits_checkpoint_test.safetensors)

# Runs the program with ARGN and sets `line` to its "test accuracy ..." line.
function(accuracy_line)
  execute_process(COMMAND ${DIGITS} ${ARGN} OUTPUT_VARIABLE output RESULT_VARIABLE status)
  message("${output}")
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "digits ${ARGN} failed: ${status}")
  endif()
  string(REGEX MATCH "\ntest accuracy [^\n]*" match "\n${output}")
  if(NOT match)
    message(FATAL_ERROR "digits ${ARGN} printed no test accuracy line")
  endif()
  string(STRIP "${match}" stripped)
  set(line "${stripped}" PARENT_SCOPE)
endfunction()

accuracy_line(--epochs 2 --checkpoint ${checkpoint})
set(trained "${line}")
accuracy_line(--eval-checkpoint ${checkpoint})
if(NOT trained STREQUAL line)
  message(FATAL_ERROR "the checkpoint's '${line}' differs from training's '${trained}'")
endif()

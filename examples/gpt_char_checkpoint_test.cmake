# ctest example_gpt_char_checkpoint: trains a tiny gpt_char briefly, evaluates its
# checkpoint in a second process, and fails unless both print the same
# "validation loss ..." line.
#   cmake -DGPT_CHAR=<program> -P gpt_char_checkpoint_test.cmake
set(checkpoint gpt_char_checkpoint_test.safetensors)
set(model --layers 2 --d-model 32 --heads 2 --context 32 --validation-windows 64)

# Runs the program with the tiny model and ARGN; sets `line` to its last
# "validation loss ..." line.
function(validation_line)
  execute_process(COMMAND ${GPT_CHAR} ${model} ${ARGN} OUTPUT_VARIABLE output
                  RESULT_VARIABLE status)
  message("${output}")
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "gpt_char ${ARGN} failed: ${status}")
  endif()
  string(REGEX MATCHALL "\nvalidation loss [^\n]*" matches "\n${output}")
  if(NOT matches)
    message(FATAL_ERROR "gpt_char ${ARGN} printed no validation loss line")
  endif()
  list(GET matches -1 match)
  string(STRIP "${match}" stripped)
  set(line "${stripped}" PARENT_SCOPE)
endfunction()

validation_line(--steps 40 --log-every 20 --sample-chars 40 --checkpoint ${checkpoint}
                --svg gpt_char_checkpoint_test.svg)
set(trained "${line}")
validation_line(--eval-checkpoint ${checkpoint})
if(NOT trained STREQUAL line)
  message(FATAL_ERROR "the checkpoint's '${line}' differs from training's '${trained}'")
endif()

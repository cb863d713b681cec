# The documentation's C++ is tested like code, so that it cannot drift from the library:
# every ```cpp block of the Markdown files given to tether_add_doc_snippets becomes a
# program that the build compiles against tether and ctest runs, as the test
# "doc <file>:<line of the fence>" (ctest -R "^doc " runs them all).
#
# A block is compiled as written when it defines main(). Any other block is a fragment:
# its #include lines go to the top, <tether/tether.h> and <iostream> are included, and
# the rest becomes the body of main(). A compile error points at the Markdown line.
#
# An HTML comment right above a block's fence (invisible on the rendered page) says more:
#
#   <!-- compiled after: CODE -->   CODE runs first in main(): the declarations that the
#                                   text around the block provides (a layer built in an
#                                   earlier block, a using-directive).
#   <!-- quoted from PATH -->       the block is not compiled (it quotes library code that
#                                   needs private headers); the test checks instead that
#                                   PATH, relative to the source root, holds it verbatim.
#
# Run as a script (cmake -DSNIPPET=... -DQUOTED_FROM=... -P DocSnippets.cmake), this
# file is that check.

if(CMAKE_SCRIPT_MODE_FILE)
  file(READ "${SNIPPET}" snippet)
  file(READ "${QUOTED_FROM}" source)
  string(FIND "${source}" "${snippet}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "${QUOTED_FROM} does not hold this block verbatim:\n${snippet}")
  endif()
  return()
endif()

set(_tether_doc_snippets_script ${CMAKE_CURRENT_LIST_FILE})

# Writes `content` to `path` only when it differs, so that reconfiguring rebuilds nothing
# that did not change.
function(_tether_write_if_changed path content)
  file(WRITE "${path}.new" "${content}")
  configure_file("${path}.new" "${path}" COPYONLY)
  file(REMOVE "${path}.new")
endfunction()

# Registers the program (or quote check) and test of one block. `name`: the file's path
# from the source root; `line`: its fence's line; `marker`, `argument`: the comment above it.
function(_tether_add_doc_snippet name line body marker argument)
  string(MAKE_C_IDENTIFIER "doc_${name}_${line}" target)
  set(test_name "doc ${name}:${line}")
  set(dir ${CMAKE_CURRENT_BINARY_DIR}/doc_snippets)
  if(marker STREQUAL "quoted from")
    _tether_write_if_changed(${dir}/${target}.txt "${body}")
    add_test(NAME "${test_name}"
             COMMAND ${CMAKE_COMMAND} -DSNIPPET=${dir}/${target}.txt
                     -DQUOTED_FROM=${PROJECT_SOURCE_DIR}/${argument} -P ${_tether_doc_snippets_script})
    return()
  endif()
  math(EXPR body_line "${line} + 1")
  set(located "#line ${body_line} \"${PROJECT_SOURCE_DIR}/${name}\"\n${body}\n")
  if(body MATCHES "int main\\(")
    set(program "${located}")
  else()
    string(REGEX MATCHALL "#include [^\n]*" includes "${body}")
    string(REGEX REPLACE "#include [^\n]*" "" located "${located}")
    list(JOIN includes "\n" includes)
    set(program "#include <tether/tether.h>\n#include <iostream>\n${includes}\n\nint main() {\n")
    if(marker STREQUAL "compiled after")
      string(APPEND program "${argument}\n")
    endif()
    string(APPEND program "${located}}\n")
  endif()
  _tether_write_if_changed(${dir}/${target}.cpp "${program}")
  add_executable(${target} ${dir}/${target}.cpp)
  target_link_libraries(${target} PRIVATE tether::tether tether_warnings)
  file(MAKE_DIRECTORY ${dir}/${target}.run)  # what a snippet writes stays in the build tree
  add_test(NAME "${test_name}" COMMAND ${target} WORKING_DIRECTORY ${dir}/${target}.run)
endfunction()

# Adds a program and a test for every ```cpp block of each Markdown file (paths relative
# to the source root); editing a file reconfigures.
function(tether_add_doc_snippets)
  foreach(name IN LISTS ARGN)
    set(path ${PROJECT_SOURCE_DIR}/${name})
    set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${path})
    file(READ ${path} rest)
    set(line 1)
    # Each pass takes the first fence left in `rest`: "```cpp" at the start of a line,
    # indented when the block sits in a list item.
    while(rest MATCHES "(^|\n)( *)```(cpp|c\\+\\+)\n")
      set(fence "${CMAKE_MATCH_0}")
      set(indent "${CMAKE_MATCH_2}")
      string(FIND "${rest}" "${fence}" fence_at)
      string(SUBSTRING "${rest}" 0 ${fence_at} before)
      string(LENGTH "${fence}" fence_length)
      math(EXPR body_at "${fence_at} + ${fence_length}")
      string(SUBSTRING "${rest}" ${body_at} -1 rest)

      string(REGEX REPLACE "[^\n]" "" newlines "${before}${fence}")
      string(LENGTH "${newlines}" fence_lines)
      math(EXPR fence_line "${line} + ${fence_lines} - 1")
      set(marker "")
      set(argument "")
      if(before MATCHES "<!-- (compiled after|quoted from):? ([^\n]*) -->[ \n]*$")
        set(marker "${CMAKE_MATCH_1}")
        set(argument "${CMAKE_MATCH_2}")
      endif()

      string(FIND "${rest}" "\n${indent}```" body_length)
      if(body_length EQUAL -1)
        message(FATAL_ERROR "${name}:${fence_line}: the ```cpp block is never closed")
      endif()
      string(SUBSTRING "${rest}" 0 ${body_length} body)
      string(SUBSTRING "${rest}" ${body_length} -1 rest)
      string(REGEX REPLACE "[^\n]" "" newlines "${body}")
      string(LENGTH "${newlines}" body_lines)
      math(EXPR line "${fence_line} + ${body_lines} + 1")
      # The block's lines without the list item's indentation.
      string(REPLACE "\n${indent}" "\n" body "\n${body}")
      string(SUBSTRING "${body}" 1 -1 body)

      _tether_add_doc_snippet(${name} ${fence_line} "${body}" "${marker}" "${argument}")
    endwhile()
  endforeach()
endfunction()

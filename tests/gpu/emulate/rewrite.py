# Part of tests/gpu/emulate: rewrites each CUDA launch
#   kernel<<<grid, block, shared, stream>>>(args)
# into ::emu::launch(dim3(grid), dim3(block), [&] { kernel(args); }) so that a .cu file compiles
# as C++ against the emulated headers. usage: rewrite.py file.cu > file.cc
import re, sys
src = open(sys.argv[1]).read()
out = []
i = 0
while True:
    j = src.find('<<<', i)
    if j < 0:
        out.append(src[i:]); break
    # kernel expression: identifier with optional <...> just before
    m = re.search(r'([A-Za-z_][A-Za-z_0-9:]*(?:<[^<>]*>)?)\s*$', src[i:j])
    kstart = i + m.start(1)
    kernel = m.group(1)
    e = src.find('>>>', j)
    cfg = src[j+3:e]
    parts = [p.strip() for p in re.split(r',(?![^(]*\))', cfg)]
    # args: balanced parens after >>>
    a0 = src.find('(', e)
    depth = 0; k = a0
    while True:
        if src[k] == '(': depth += 1
        elif src[k] == ')':
            depth -= 1
            if depth == 0: break
        k += 1
    args = src[a0+1:k]
    out.append(src[i:kstart])
    out.append('::emu::launch(dim3(%s), dim3(%s), [&] { %s(%s); })' % (parts[0], parts[1], kernel, args))
    i = k + 1
sys.stdout.write(''.join(out))

# Drop the paragraph macros scdoc emits where they do nothing (right after
# .TH or a heading, before a heading or another paragraph, at the end;
# inside an indent's end it moves after it), so
# that `mandoc -T lint` has nothing to say about the generated pages.
{ l[NR] = $0 }
END {
    for (i = 1; i <= NR; i++) {
        if (l[i] == ".P" && l[i+1] == ".RE") {     # the break goes after the indent
            print ".RE"; l[i+1] = ".P"; continue
        }
        if (l[i] == ".P" && (l[i-1] ~ /^\.(SH|SS|TH) / || l[i+1] ~ /^\.(SH|SS|P$|PP$)/ ||
                             l[i+1] == "" && i == NR || i == NR))
            continue
        print l[i]
    }
}

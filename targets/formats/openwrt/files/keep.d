/etc/config/@NAME@
/etc/@NAME@/

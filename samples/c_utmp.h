/* c_utmp.h -- the records of the Linux login accounting files (utmp, wtmp)
   and of lastlog, adapted from the GNU C Library's <bits/utmp.h> so that it
   stands alone: the x86-64 layout (32-bit ut_session and ut_tv, as glibc
   uses when __WORDSIZE_TIME64_COMPAT32 is set), nothing else included.

   Read a wtmp file with recview:

       import recview as rv
       schema = rv.Schema.from_c(open("samples/c_utmp.h").read(), "utmp")
       with rv.open("/var/log/wtmp", schema) as view:
           print(view["ut_user"], view["ut_tv"]["tv_sec"])

   The original is Copyright (C) 1993-2022 Free Software Foundation, Inc.,
   part of the GNU C Library, licensed under the GNU LGPL 2.1 or later.  */

#ifndef RECVIEW_C_UTMP_H
#define RECVIEW_C_UTMP_H 1

#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define UT_LINESIZE	32
#define UT_NAMESIZE	32
#define UT_HOSTSIZE	256


/* The structure describing an entry in the database of
   previous logins.  */
struct lastlog
  {
    int32_t ll_time;
    char ll_line[UT_LINESIZE];
    char ll_host[UT_HOSTSIZE];
  };


/* The structure describing the status of a terminated process.  This
   type is used in `struct utmp' below.  */
struct exit_status
  {
    short int e_termination;	/* Process termination status.  */
    short int e_exit;		/* Process exit status.  */
  };


/* The structure describing an entry in the user accounting database.  */
struct utmp
{
  short int ut_type;		/* Type of login.  */
  pid_t ut_pid;			/* Process ID of login process.  */
  char ut_line[UT_LINESIZE]
    __attribute__ ((__nonstring__));	/* Devicename.  */
  char ut_id[4]
    __attribute__ ((__nonstring__));	/* Inittab ID.  */
  char ut_user[UT_NAMESIZE]
    __attribute__ ((__nonstring__));	/* Username.  */
  char ut_host[UT_HOSTSIZE]
    __attribute__ ((__nonstring__));	/* Hostname for remote login.  */
  struct exit_status ut_exit;	/* Exit status of a process marked
				   as DEAD_PROCESS.  */
/* The ut_session and ut_tv fields must be the same size when compiled
   32- and 64-bit.  This allows data files and shared memory to be
   shared between 32- and 64-bit applications.  */
  int32_t ut_session;		/* Session ID, used for windowing.  */
  struct
  {
    int32_t tv_sec;		/* Seconds.  */
    int32_t tv_usec;		/* Microseconds.  */
  } ut_tv;			/* Time entry was made.  */

  int32_t ut_addr_v6[4];	/* Internet address of remote host.  */
  char __glibc_reserved[20];		/* Reserved for future use.  */
};

_Static_assert (sizeof (struct utmp) == 384, "glibc's utmp record is 384 bytes");

/* Backwards compatibility hacks.  */
#define ut_name		ut_user
#define ut_xtime	ut_tv.tv_sec
#define ut_addr		ut_addr_v6[0]


/* Values for the `ut_type' field of a `struct utmp'.  */
#define EMPTY		0	/* No valid user accounting information.  */

#define RUN_LVL		1	/* The system's runlevel.  */
#define BOOT_TIME	2	/* Time of system boot.  */
#define NEW_TIME	3	/* Time after system clock changed.  */
#define OLD_TIME	4	/* Time when system clock changed.  */

#define INIT_PROCESS	5	/* Process spawned by the init process.  */
#define LOGIN_PROCESS	6	/* Session leader of a logged in user.  */
#define USER_PROCESS	7	/* Normal process.  */
#define DEAD_PROCESS	8	/* Terminated process.  */

#define ACCOUNTING	9

#ifdef __cplusplus
}
#endif

#endif /* RECVIEW_C_UTMP_H */

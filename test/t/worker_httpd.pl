#!/usr/bin/perl
# A small HTTP/1.1 keep-alive server for the worker's http executor tests
# (test/t/worker_errors.t, test/t/worker_http.t), core Perl only.
#   worker_httpd.pl PORTFILE LOGFILE [SECRET]
# One process per connection, so slow requests do not block others; each accepted
# connection is logged as "ACCEPT", each request as
# "PATH IDEMPOTENCY-KEY ATTEMPT CORRELATION SIGNATURE" (SIGNATURE: ok, bad or none).
# With SECRET, a request whose TaskFlow-Signature does not verify gets 401.
#   POST /flaky:  500 on the first request, then 200 with a JSON body.
#   POST /bad:    400.           POST /ok: 200 echoing the body as {"got": BODY}.
#   POST /snooze: 429 with Retry-After: 1 on the first request of each job, then 200.
#   POST /snooze-json: 503 with {"snooze_seconds": 1} the first time for each job, then 200.
#   POST /conflict: 409.        POST /gone: 410.
#   POST /long?ms=N: answers after N ms; if the client goes away first, logs "ABORTED /long JOB".
use strict;
use warnings;
use Digest::SHA qw(hmac_sha256_hex);
use Fcntl qw(:flock);
use IO::Select;
use IO::Socket::INET;
use Time::HiRes qw(time);

my ($portfile, $logfile, $secret) = @ARGV;
my $server = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 64, ReuseAddr => 1)
  or die "listen: $!";
open(my $pf, '>', "$portfile.tmp") or die;
print $pf $server->sockport, "\n";
close $pf;
rename "$portfile.tmp", $portfile;
$SIG{CHLD} = 'IGNORE';

sub log_line {
  my ($line) = @_;
  open(my $log, '>>', $logfile) or die;
  flock($log, LOCK_EX);
  print $log "$line\n";
  close $log;
}

# How many requests to PATH for JOB were logged before (this one included).
sub seen {
  my ($path, $job) = @_;
  local $/ = "\n";
  open(my $log, "<", $logfile) or return 0;
  flock($log, LOCK_SH);
  my $n = grep { /^\Q$path\E \Q$job\E:/ } <$log>;
  close $log;
  return $n;
}

sub respond {
  my ($client, $status, $content, @extra) = @_;
  my $headers = join '', map { "$_\r\n" } @extra;
  print $client "HTTP/1.1 $status X\r\nContent-Type: application/json\r\nContent-Length: " . length($content)
    . "\r\n$headers\r\n$content";
}

sub serve {
  my ($client) = @_;
  my $select = IO::Select->new($client);
  local $/ = "\r\n";
  while ($select->can_read(30)) {
    my $request = <$client>;
    return unless defined $request;
    my ($method, $target) = split / /, $request;
    my ($path, $query) = split /\?/, $target, 2;
    my %headers;
    while (my $line = <$client>) {
      last if $line eq "\r\n";
      $line =~ s/\r\n$//;
      my ($name, $value) = split /:\s*/, $line, 2;
      $headers{lc $name} = $value;
    }
    my $body = '';
    read($client, $body, $headers{'content-length'} // 0);
    my $signature = 'none';
    if (defined $headers{'taskflow-signature'}) {
      my $expected = 'v1=' . hmac_sha256_hex(($headers{'taskflow-timestamp'} // '') . ".$body", $secret // '');
      $signature = $headers{'taskflow-signature'} eq $expected ? 'ok' : 'bad';
    }
    my $job = $headers{'taskflow-job-id'} // '-';
    log_line(sprintf "%s %s %s %s %s", $path, $headers{'idempotency-key'} // '-', $headers{'taskflow-attempt'} // '-',
      $headers{'taskflow-correlation-id'} // '-', $signature);
    my @reply = (404, '{"error": "not found"}');
    if (defined $secret && $signature ne 'ok') {
      @reply = (401, '{"error": "bad signature"}');
    } elsif ($path eq '/flaky') {
      @reply = seen($path, $job) > 1 ? (200, '{"delivered": true}') : (500, 'upstream exploded');
    } elsif ($path eq '/bad') {
      @reply = (400, 'missing field "to"');
    } elsif ($path eq '/conflict') {
      @reply = (409, 'locked');
    } elsif ($path eq '/gone') {
      @reply = (410, 'gone');
    } elsif ($path eq '/ok') {
      @reply = (200, "{\"got\": $body}");
    } elsif ($path eq '/snooze') {
      @reply = seen($path, $job) > 1 ? (200, '{"after": "snooze"}') : (429, 'slow down', 'Retry-After: 1');
    } elsif ($path eq '/snooze-json') {
      @reply = seen($path, $job) > 1 ? (200, '{"after": "snooze"}') : (503, '{"snooze_seconds": 1}');
    } elsif ($path eq '/long') {
      my ($ms) = ($query // '') =~ /ms=(\d+)/;
      my $until = time + ($ms // 1000) / 1000;
      while (time < $until) {
        # Readable while waiting: the worker closed the connection (it sends nothing else now).
        if ($select->can_read(0.05)) {
          my $n = sysread($client, my $buf, 1);
          if (!$n) {
            log_line("ABORTED /long $job");
            return;
          }
        }
      }
      @reply = (200, '{"long": true}');
    }
    respond($client, @reply);
  }
}

while (1) {
  my $client = $server->accept or next;
  log_line('ACCEPT');
  my $pid = fork;
  if (!defined $pid) {
    close $client;
    next;
  }
  if ($pid == 0) {
    close $server;
    serve($client);
    close $client;
    exit 0;
  }
  close $client;
}

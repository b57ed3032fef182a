#!/usr/bin/perl
# A tiny HTTP server for test/t/worker_errors.t (core Perl only).
#   worker_httpd.pl PORTFILE LOGFILE
# POST /flaky: 500 on the first request, then 200 with a JSON body.
# POST /bad:   400.   POST /ok: 200 echoing the body as {"got": BODY}.
# Each request is logged as "PATH IDEMPOTENCY-KEY ATTEMPT CORRELATION".
use strict;
use warnings;
use IO::Socket::INET;

my ($portfile, $logfile) = @ARGV;
my $server = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 16, ReuseAddr => 1)
  or die "listen: $!";
open(my $pf, '>', "$portfile.tmp") or die;
print $pf $server->sockport, "\n";
close $pf;
rename "$portfile.tmp", $portfile;

my %seen;
while (my $client = $server->accept) {
  local $/ = "\r\n";
  my $request = <$client>;
  next unless defined $request;
  my ($method, $path) = split / /, $request;
  my %headers;
  while (my $line = <$client>) {
    last if $line eq "\r\n";
    $line =~ s/\r\n$//;
    my ($name, $value) = split /:\s*/, $line, 2;
    $headers{lc $name} = $value;
  }
  my $body = '';
  read($client, $body, $headers{'content-length'} // 0);
  open(my $log, '>>', $logfile) or die;
  printf $log "%s %s %s %s\n", $path, $headers{'idempotency-key'} // '-', $headers{'x-taskflow-attempt'} // '-',
    $headers{'x-correlation-id'} // '-';
  close $log;
  my ($status, $content) = (404, 'not found');
  if ($path eq '/flaky') {
    ($status, $content) = $seen{$path}++ ? (200, '{"delivered": true}') : (500, 'upstream exploded');
  } elsif ($path eq '/bad') {
    ($status, $content) = (400, 'missing field "to"');
  } elsif ($path eq '/ok') {
    ($status, $content) = (200, "{\"got\": $body}");
  }
  print $client "HTTP/1.1 $status X\r\nContent-Type: text/plain\r\nContent-Length: " . length($content)
    . "\r\nConnection: close\r\n\r\n$content";
  close $client;
}

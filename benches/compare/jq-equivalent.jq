# What a developer would write with jq instead of redactor (an approximation
# of the default policy, not an equivalent: jq has no keyed hashing, so
# identifiers are deleted instead of tokenized, and paths are not checked).
# Used by docs/benchmarks.md for the comparison:
#   jq -c -f benches/compare/jq-equivalent.jq corpus.ndjson
def pii_keys: [
  "email", "$email", "emailaddress", "name", "$name", "firstName", "lastName",
  "firstname", "lastname", "fullname", "full_name", "phone", "$phone", "avatar",
  "birthday", "age", "gender", "address", "city", "$city", "region", "$region",
  "country", "postal_code", "zip", "latitude", "longitude", "$latitude",
  "$longitude", "ip", "$ip", "userId", "user_id", "$user_id", "anonymousId",
  "distinct_id", "$distinct_id", "$device_id", "device_id", "$anon_distinct_id",
  "idfa", "idfv", "adid", "android_id", "advertisingId", "$current_url",
  "$referrer", "$initial_referrer", "referrer", "url", "$raw_user_agent",
  "userAgent", "user_agent", "$session_id", "session_id", "company_id",
  "account_id", "$group_id", "groupId", "$insert_id", "insert_id",
  "enduser.id", "user.email", "client.address", "http.client_ip"
];
walk(
  if type == "object" then with_entries(select(.key as $k | pii_keys | index($k) | not))
  elif type == "string" then
    gsub("[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\\.[A-Za-z]{2,}"; "[email]")
    | gsub("\\b(?:[0-9]{1,3}\\.){3}[0-9]{1,3}\\b"; "[ip]")
  else . end
)

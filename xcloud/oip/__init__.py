"""Generated code of the Open Inference Protocol (protos/xcloud/oip, package ``inference``).

Its messages share their full names with tritonclient's own copy of the protocol, so one
process cannot import both (protobuf refuses a second definition of ``inference.*``): a
process that talks to XCloud through tritonclient uses tritonclient's, servers use these.
"""

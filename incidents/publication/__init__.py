"""What reaches the public: staff review, redaction, statistics, public views."""

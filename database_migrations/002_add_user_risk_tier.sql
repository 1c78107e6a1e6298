-- Each user has a risk tier; signal_risk_map says which signal tiers each user tier receives.
ALTER TABLE users ADD COLUMN risk_tier text NOT NULL DEFAULT 'low'
    CHECK (risk_tier IN ('low', 'medium', 'high'));

CREATE TABLE signal_risk_map (
    user_tier   text NOT NULL CHECK (user_tier IN ('low', 'medium', 'high')),
    signal_tier text NOT NULL CHECK (signal_tier IN ('low', 'medium', 'high')),
    PRIMARY KEY (user_tier, signal_tier)
);
INSERT INTO signal_risk_map (user_tier, signal_tier) VALUES
    ('high', 'low'), ('high', 'medium'), ('high', 'high'),
    ('medium', 'low'), ('medium', 'medium'),
    ('low', 'low');

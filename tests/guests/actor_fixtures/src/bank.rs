//! Bank accounts as actors, and a task that moves money between two of them through their
//! handles.

use std::fmt;

use rustyray::RayError;

/// Why a withdrawal was refused.
#[derive(Debug)]
pub struct InsufficientFunds {
    owner: String,
    balance: u64,
    wanted: u64,
}

impl fmt::Display for InsufficientFunds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "insufficient funds: {} has {}, cannot withdraw {}",
            self.owner, self.balance, self.wanted
        )
    }
}

#[rustyray::actor]
pub struct Account {
    owner: String,
    balance: u64,
}

#[rustyray::actor]
impl Account {
    /// Refuses an empty owner: a constructor error, reported by the handle's `ready()`.
    pub fn new(owner: String, opening: u64) -> Result<Self, String> {
        if owner.is_empty() {
            return Err("an account needs an owner".to_owned());
        }
        Ok(Account {
            owner,
            balance: opening,
        })
    }

    /// The new balance.
    pub fn deposit(&mut self, amount: u64) -> u64 {
        self.balance += amount;
        self.balance
    }

    /// The new balance, or why not (the balance is unchanged then).
    pub fn withdraw(&mut self, amount: u64) -> Result<u64, InsufficientFunds> {
        if amount > self.balance {
            return Err(InsufficientFunds {
                owner: self.owner.clone(),
                balance: self.balance,
                wanted: amount,
            });
        }
        self.balance -= amount;
        Ok(self.balance)
    }

    pub fn balance(&self) -> u64 {
        self.balance
    }

    pub fn owner(&self) -> String {
        self.owner.clone()
    }
}

/// Moves `amount` from `from` to `to`; their balances afterwards. Nothing moves if `from`
/// cannot pay.
#[rustyray::remote]
pub fn transfer(
    from: AccountHandle,
    to: AccountHandle,
    amount: u64,
) -> Result<(u64, u64), RayError> {
    let from_balance = from.withdraw(amount).get()?;
    let to_balance = to.deposit(amount).get()?;
    Ok((from_balance, to_balance))
}
